"""kube-scheduler: framework, plugins and the scheduler process of each generation."""
