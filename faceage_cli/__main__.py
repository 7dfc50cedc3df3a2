from faceage_cli import main

main()
