from smsq.cli import main

main()
