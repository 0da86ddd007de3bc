from executor_service.main import main

main()
