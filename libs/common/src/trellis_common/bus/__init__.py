"""One bus interface, two implementations: Apache Kafka (aiokafka) and in-process (embedded mode)."""

from trellis_common.bus.base import BusConsumer, EventBus, OutgoingMessage, Record

__all__ = ["BusConsumer", "EventBus", "OutgoingMessage", "Record"]
