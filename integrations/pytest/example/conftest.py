# Load the plugin from the directory above (no install needed).
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
pytest_plugins = ["pgboot_pytest"]
