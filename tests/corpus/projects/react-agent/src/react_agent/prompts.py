# lgp-corpus: copied from https://github.com/langchain-ai/react-agent (path src/react_agent/prompts.py, commit d89d249c2a768e8b166c7c4e3bfeff2c73acb00f),
# MIT licence (see LICENSE in the project folder). Only lines marked `lgp-corpus: stand-in` differ.
"""Default prompts used by the agent."""

SYSTEM_PROMPT = """You are a helpful AI assistant.

System time: {system_time}"""
