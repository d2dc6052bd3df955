import ArgumentParser

PinLeaseDaemon.main()
