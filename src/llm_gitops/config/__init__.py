"""``.llm-gitops.yaml``: versioned, validated into frozen typed objects.

``load_config(path)`` is the one entry point; ``schema`` holds the sections.
"""

from llm_gitops.config.load import CONFIG_FILENAME, find_config, load_config, parse_config
from llm_gitops.config.schema import Config

__all__ = ["CONFIG_FILENAME", "Config", "find_config", "load_config", "parse_config"]
