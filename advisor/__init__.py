"""perfadvisor: evidence-based performance advice for a web stack (nginx/React, Spring Boot, PostgreSQL, Redis)."""

__version__ = "0.1.0"
