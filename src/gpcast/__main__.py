from gpcast.cli import main

main()
