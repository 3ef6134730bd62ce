-- One delivery attempt to one recipient.
insert into deliveries (logged_at, kind, period, version, rule, channel, recipient, status, subject, attachments, detail, trigger)
values (now(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);
