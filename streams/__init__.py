"""The composition root: Kafka clients, the embedded broker, Faust, and the CLI.

Only this package imports kafka-python, Faust or the broker binary; nothing
imports it.
"""
