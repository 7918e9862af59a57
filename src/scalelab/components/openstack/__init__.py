"""Containerized OpenStack Newton on the cluster: services as queues of worker processes over
oslo.db pools, a Galera cluster, memcached and RabbitMQ (model card: docs/models/openstack.md)."""
