"""A person's decisions: the review queue, approvals and rejections, and the actions on jobs the engine
will not decide alone (reconcile, retry, resume).
"""
