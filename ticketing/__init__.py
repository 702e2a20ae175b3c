"""The ticket write model every service shares: the decider (`domain`), the desk that runs it
against the log (`handler`), the rules a rejection names, public numbers, and what services
taking ticket commands share (`web`: the HTTP side; `timer`: the time-driven base).

Below the services: each sends its commands through it and none imports another.
"""
