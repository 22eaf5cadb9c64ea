from lgp_lab.cli import main

main()
