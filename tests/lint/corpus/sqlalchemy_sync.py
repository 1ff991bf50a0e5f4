"""SQLAlchemy's synchronous engine and ORM, and Flask-SQLAlchemy's db.session, in coroutines."""

from __future__ import annotations

import sqlalchemy
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

engine = create_engine("sqlite://")
SessionLocal = sessionmaker(bind=engine)
db = SQLAlchemy()


class Repo:
    def __init__(self, engine: sqlalchemy.engine.Engine) -> None:
        self.engine = engine

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text("select count(*) from users")).scalar_one()


async def core(repo: Repo) -> int:
    with engine.begin() as conn:
        conn.execute(text("update users set seen = 1"))
    return repo.count()


async def orm(session: Session, user_model: type, user_id: int) -> object:
    session.execute(select(user_model))
    found = session.query(user_model).filter_by(id=user_id).first()
    session.commit()
    with SessionLocal() as other:
        other.get(user_model, user_id)
    return found


async def flask_view(user_model: type) -> None:
    db.session.execute(text("select 1"))
    db.session.commit()


# not blocking: statements and queries built, not run; the async engine awaited
async def build_only(session: Session, user_model: type) -> tuple[object, object]:
    stmt = select(user_model).where(text("id = 1"))
    query = session.query(user_model).filter(text("id = 1")).order_by(text("id"))
    return stmt, query


async def async_engine() -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    aengine = create_async_engine("sqlite+aiosqlite://")
    async with aengine.connect() as conn:
        await conn.execute(text("select 1"))
