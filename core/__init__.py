"""What every resource shares: opaque ids, timestamps, references, metadata and the mode.

Not an app: it holds abstract models and the actor that services record in events.
"""
