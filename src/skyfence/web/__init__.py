"""skyfence.web"""
