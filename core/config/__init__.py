"""The application's configuration: the :class:`Config` document, loading it from YAML, TOML or JSON with
every fault reported at once, and the ordered table of checks each feature contributes for its own section.
"""

from tocsin.config.loader import config_converter, dump_config, load_config, parse_config, read_document
from tocsin.config.model import Config

__all__ = ["Config", "config_converter", "dump_config", "load_config", "parse_config", "read_document"]
