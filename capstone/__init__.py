"""The capstone: train the GPT your lesson notebooks define (`make train`)."""
