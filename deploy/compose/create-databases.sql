-- One database per service: services share no tables.
CREATE DATABASE surveys;
CREATE DATABASE skills;
CREATE DATABASE matchmaking;
CREATE DATABASE strategy;
CREATE DATABASE notifications;
CREATE DATABASE ingress;
