"""What the tasks service consumes: its subscriptions, one handler per event model, each
handler living with the domain it changes."""
