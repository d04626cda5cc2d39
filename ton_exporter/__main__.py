from ton_exporter.cli import main

main()
