from groundctl.cli import main

main()
