from llm_gitops.cli import main

if __name__ == "__main__":
    main()
