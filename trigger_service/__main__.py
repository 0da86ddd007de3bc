from trigger_service.main import main

main()
