"""The `rigshift` command line: thin layers over the library, one module per command group."""
