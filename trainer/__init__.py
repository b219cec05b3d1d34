"""PyTorch consumer of the shard dir: memory-mapped loader, collate, BERT model and training loop."""
