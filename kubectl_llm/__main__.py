"""`python -m kubectl_llm` = the `kubectl-llm` console script."""

from kubectl_llm.cli.main import main

main()
