"""What the tests and the benchmarks both need to run the services on this machine: free
ports, health checks, stopping the processes they start, RabbitMQ virtual hosts, and
emptying a service's database. Neither ``tests`` nor ``bench`` imports the other; both
import this.
"""
