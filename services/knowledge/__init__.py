"""知识库: the knowledge base, its review workflow and its Chinese search."""
