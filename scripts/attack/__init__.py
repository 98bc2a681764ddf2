"""The run-folder attack of scripts/attack_run_folder.py, one module per part."""
