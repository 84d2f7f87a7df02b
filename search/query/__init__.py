"""Query understanding: normalisation and the text Shelf accepts from outside."""
