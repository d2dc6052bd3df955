PinLeaseDaemon.main()
