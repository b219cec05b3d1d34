"""PyTorch consumer of the shard dir: mmap loader, collate, BERT model and training loop."""
