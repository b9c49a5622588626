"""The member's own screen in one call: tier, paid plan, growth, tasks and benefits."""
