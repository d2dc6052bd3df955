// The `pinlease` CLI: parse, run, and exit with the documented codes (see PinleaseEntry).
PinleaseEntry.run()
