create table items (id serial primary key, name text not null);
insert into items (name) values ('from the template');
