"""The local stack's processes (Redis, the emulator, workers, Flower) and how ``smsq dev`` starts them."""
