"""Pure domain logic. Imports nothing but the standard library and other domain modules."""
