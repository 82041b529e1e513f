"""The generator of ``deploy/k8s``'s generated part: the base (one folder per service and one for the manager
console, Strimzi topics and users) and the optional components (KEDA, monitoring, network policies, Kafka
authentication). ``python -m trellis.manifests`` writes it (``scripts/generate`` runs that).

Everything that follows from the code is derived from it rather than copied: the topics, partitions and
retention from the event catalogue, each service's Kafka rights from the event types its handlers consume and
the catalogue entries it publishes, the settings from the service's settings class, the APIs the console calls
from the console's own list. Run ``scripts/generate`` after changing any of them;
``tests/deploy/test_generated.py`` fails when the committed files differ from what this package writes. The
overlays (``deploy/k8s/overlays``) and the CRD schemas are written by hand.

- ``apps``: what runs (the services and the console), their settings and secrets, labels and selectors;
- ``workloads``: their Deployments, migration Jobs, Services, ServiceAccounts and disruption budgets;
- ``kafka``: topics, users and ACLs, the KEDA lag scalers and the Kafka authentication component;
- ``monitoring``: the ServiceMonitor, the alerting rules and the Grafana dashboard;
- ``networking``: the network policies;
- ``layout``: where each object goes (kustomize base and components, their kustomization files) as YAML.
"""
