"""The channel kinds (SPEC §19): adding an integration is one class and one line in `registry.KINDS`."""
