"""skyfence.policy"""
