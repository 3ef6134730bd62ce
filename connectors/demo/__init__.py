"""Deterministic demo company generator (ERP, bank and CRM files); see ``generator``."""

from connectors.demo.generator import generate

__all__ = ["generate"]
