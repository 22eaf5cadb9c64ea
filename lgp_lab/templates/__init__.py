"""Workflow templates: ``lgp-lab templates`` lists them, ``lgp-lab create`` copies one.

Each ``<name>/`` holds ``workflow.py`` (customization guide in its docstring),
``template.yaml`` (description, complexity, sample input) and optional sample data.
"""
