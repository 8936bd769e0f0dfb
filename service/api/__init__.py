"""HTTP surface of the decision service: dependencies, schemas and one router per resource."""
