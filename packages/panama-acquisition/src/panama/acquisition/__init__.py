"""PANAMA samplers: fixed designs and active learning by ensemble disagreement."""
