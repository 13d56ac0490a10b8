"""kubectl llm: plan, install and remove LLMs behind the Envoy AI Gateway, one Helm release per model."""

__version__ = "0.1.0"
