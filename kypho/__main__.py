from kypho.cli import main

main()
