"""WordPiece vocabulary: BERT pre-tokenisation, optional jieba segmentation, training, encoders."""
