"""Demo data: Peruvian and Mexican customers, their sites, people and a year of activities.

Everything comes from one ``random.Random(seed)`` and one reference time, so a seed always
gives the same rows (and the same people and companies whatever the reference time). Rows get
explicit ids, so they can point at each other before they exist, and go in with
``bulk_create`` in rounds of accounts inside one transaction: memory stays flat at benchmark
sizes (100k contacts), and a failure leaves nothing half-written.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from stdnum.mx import curp as mx_curp
from stdnum.mx import rfc as mx_rfc
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from models import (
    Account,
    Activity,
    AuditEvent,
    Channel,
    Contact,
    CustomFieldDefinition,
    Location,
    Team,
    User,
)
from models.base import fold
from models.enums import (
    EVENT_KINDS,
    ActivityKind,
    ActivityStatus,
    AuditAction,
    CallDirection,
    CaptureSource,
    ChannelKind,
    ContactRole,
    CustomFieldEntity,
    CustomFieldType,
    DocumentType,
    LeadSource,
    LocationKind,
    RecordStatus,
    Role,
)
from resolvers.channels import check_channel_value
from resolvers.errors import Problems
from resolvers.unit_of_work import Unit, change

__all__ = ["DemoSummary", "fill_demo_data"]

BATCH_SIZE = 1000
ACCOUNTS_PER_ROUND = 250
DEMO_DOMAIN = "demo-crm.example"
# Key of the PostgreSQL advisory lock that keeps two start-ups from filling at once.
DEMO_LOCK_KEY = 7_300_451


@dataclass(frozen=True)
class DemoSummary:
    """How many rows fill_demo_data wrote; all zero when the database already had accounts."""

    accounts: int = 0
    locations: int = 0
    contacts: int = 0
    channels: int = 0
    activities: int = 0
    users: int = 0
    teams: int = 0
    audit_events: int = 0


# ---------------------------------------------------------------- data pools


class Area(NamedTuple):
    """A distrito (Peru) or colonia (Mexico), the municipality around it and its postcode."""

    name: str
    city: str
    postal_code: str


class Metro(NamedTuple):
    """A metropolitan area: where its addresses are and how its phone numbers look."""

    country: str
    province: str | None
    state: str
    area_code: str
    utc_offset_hours: int
    curp_state: str
    streets: tuple[str, ...]
    areas: tuple[Area, ...]


PERU_METROS = (
    Metro("PE", "Lima", "Lima", "1", 5, "", (
        "Av. José Larco", "Av. Javier Prado Este", "Av. Arequipa", "Jr. de la Unión",
        "Calle Las Begonias", "Av. Alfredo Benavides", "Jr. Huallaga", "Av. La Marina",
        "Av. Angamos Este", "Calle Schell", "Av. Petit Thouars", "Av. Túpac Amaru",
        "Av. Próceres de la Independencia", "Av. Nicolás Ayllón", "Calle Los Pinos",
    ), (
        Area("Miraflores", "Lima", "15074"), Area("San Isidro", "Lima", "15073"),
        Area("Santiago de Surco", "Lima", "15039"), Area("La Victoria", "Lima", "15018"),
        Area("Cercado de Lima", "Lima", "15001"), Area("Ate", "Lima", "15012"),
        Area("San Borja", "Lima", "15036"), Area("Los Olivos", "Lima", "15304"),
        Area("Jesús María", "Lima", "15072"), Area("Lince", "Lima", "15046"),
        Area("San Juan de Lurigancho", "Lima", "15401"), Area("Chorrillos", "Lima", "15064"),
        Area("Breña", "Lima", "15083"), Area("Surquillo", "Lima", "15047"),
    )),
    Metro("PE", "Arequipa", "Arequipa", "54", 5, "", (
        "Calle Mercaderes", "Av. Ejército", "Calle San Francisco", "Av. Cayma",
        "Calle Jerusalén", "Av. Dolores", "Av. Lambramani",
    ), (
        Area("Arequipa", "Arequipa", "04001"), Area("Cayma", "Arequipa", "04017"),
        Area("Yanahuara", "Arequipa", "04013"),
        Area("José Luis Bustamante y Rivero", "Arequipa", "04009"),
        Area("Cerro Colorado", "Arequipa", "04014"),
    )),
    Metro("PE", "Trujillo", "La Libertad", "44", 5, "", (
        "Av. España", "Jr. Pizarro", "Av. Larco", "Jr. Independencia", "Av. América Sur",
        "Av. Húsares de Junín",
    ), (
        Area("Trujillo", "Trujillo", "13001"), Area("Víctor Larco Herrera", "Trujillo", "13009"),
        Area("La Esperanza", "Trujillo", "13013"), Area("El Porvenir", "Trujillo", "13003"),
    )),
    Metro("PE", "Cusco", "Cusco", "84", 5, "", (
        "Av. El Sol", "Calle Plateros", "Av. de la Cultura", "Calle Mantas", "Av. Tullumayo",
        "Calle Saphi",
    ), (
        Area("Cusco", "Cusco", "08002"), Area("Wanchaq", "Cusco", "08002"),
        Area("San Sebastián", "Cusco", "08006"), Area("Santiago", "Cusco", "08003"),
    )),
)  # fmt: skip

MEXICO_METROS = (
    Metro("MX", None, "Ciudad de México", "55", 6, "DF", (
        "Av. Álvaro Obregón", "Calle Orizaba", "Av. Insurgentes Sur", "Calle Durango",
        "Av. Ámsterdam", "Calle Río Lerma", "Av. Presidente Masaryk", "Calle Génova",
        "Eje Central Lázaro Cárdenas", "Calle República de Uruguay", "Av. Coyoacán",
        "Calle Pitágoras",
    ), (
        Area("Roma Norte", "Cuauhtémoc", "06700"), Area("Condesa", "Cuauhtémoc", "06140"),
        Area("Juárez", "Cuauhtémoc", "06600"), Area("Centro", "Cuauhtémoc", "06000"),
        Area("Santa María la Ribera", "Cuauhtémoc", "06400"),
        Area("Polanco V Sección", "Miguel Hidalgo", "11560"),
        Area("Escandón", "Miguel Hidalgo", "11800"),
        Area("Del Valle Centro", "Benito Juárez", "03100"),
        Area("Narvarte Poniente", "Benito Juárez", "03020"),
        Area("Nápoles", "Benito Juárez", "03810"), Area("Del Carmen", "Coyoacán", "04100"),
        Area("Granjas México", "Iztacalco", "08400"),
    )),
    Metro("MX", None, "Jalisco", "33", 6, "JC", (
        "Av. Chapultepec", "Av. Vallarta", "Calle Libertad", "Av. López Mateos",
        "Calle Morelos", "Av. Américas", "Calle Pedro Moreno",
    ), (
        Area("Americana", "Guadalajara", "44160"), Area("Providencia", "Guadalajara", "44630"),
        Area("Chapalita", "Guadalajara", "44500"), Area("Centro", "Guadalajara", "44100"),
        Area("Ciudad Granja", "Zapopan", "45010"),
        Area("Tlaquepaque Centro", "San Pedro Tlaquepaque", "45500"),
    )),
    Metro("MX", None, "Nuevo León", "81", 6, "NL", (
        "Av. Constitución", "Calle Padre Mier", "Av. Hidalgo", "Calzada del Valle",
        "Av. Vasconcelos", "Calle Zaragoza", "Av. Gonzalitos",
    ), (
        Area("Centro", "Monterrey", "64000"), Area("Obispado", "Monterrey", "64060"),
        Area("Cumbres", "Monterrey", "64610"), Area("Mitras Centro", "Monterrey", "64460"),
        Area("Del Valle", "San Pedro Garza García", "66220"),
        Area("Anáhuac", "San Nicolás de los Garza", "66450"),
    )),
    Metro("MX", None, "Puebla", "222", 6, "PL", (
        "Av. Juárez", "Calle 5 de Mayo", "Av. Reforma", "Blvd. Atlixcáyotl",
        "Calle 16 de Septiembre", "Av. 31 Poniente",
    ), (
        Area("Centro", "Puebla", "72000"), Area("La Paz", "Puebla", "72160"),
        Area("Huexotitla", "Puebla", "72534"),
        Area("Reserva Territorial Atlixcáyotl", "San Andrés Cholula", "72830"),
    )),
)  # fmt: skip

PERU_URBANIZATIONS = (
    "Urb. Santa Catalina", "Urb. Los Jardines", "Urb. Las Gardenias", "Urb. Pando",
    "Urb. La Aurora", "Urb. El Palomar", "Urb. Santa Patricia", "Urb. Primavera",
)  # fmt: skip
PERU_INTERIORS = ("Of. 302", "Dpto. 501", "Int. 4", "Piso 2", "Tienda 15", "Stand 108")
MEXICO_INTERIORS = ("Local 3", "Int. B", "Depto. 12", "Piso 4", "Local 7-A")
PERU_REFERENCES = (
    "frente al parque", "edificio azul", "al costado del mercado", "portón negro",
    "cerca al paradero", "frente al colegio", "a media cuadra de {a}", "esquina con {a}",
)  # fmt: skip
MEXICO_REFERENCES = (
    "entre {a} y {b}", "entre {a} y {b}", "frente al parque", "edificio azul",
    "a un costado de la farmacia", "junto a la tortillería", "frente a la iglesia",
    "casa color amarillo con portón negro",
)  # fmt: skip

# (trade-name prefix, industry, whether the trade name is a small shop without legal suffix)
PERU_BUSINESSES = (
    ("Distribuidora", "Distribución", False), ("Comercial", "Comercio mayorista", False),
    ("Inversiones", "Retail", False), ("Corporación", "Distribución", False),
    ("Importaciones", "Importación", False), ("Transportes", "Logística", False),
    ("Agroindustrias", "Alimentos", False), ("Bodega", "Retail", True),
    ("Minimarket", "Retail", True), ("Ferretería", "Ferretería", True),
    ("Botica", "Farmacia", True), ("Farmacia", "Farmacia", True),
    ("Panadería", "Alimentos", True), ("Librería", "Librería y útiles", True),
)  # fmt: skip
MEXICO_BUSINESSES = (
    ("Distribuidora", "Distribución", False), ("Comercializadora", "Comercio mayorista", False),
    ("Farmacias", "Farmacia", False), ("Grupo", "Distribución", False),
    ("Transportes", "Logística", False), ("Panificadora", "Alimentos", False),
    ("Refaccionaria", "Autopartes", False), ("Ferretería", "Ferretería", True),
    ("Abarrotes", "Retail", True), ("Miscelánea", "Retail", True),
    ("Tlapalería", "Ferretería", True), ("Cremería", "Alimentos", True),
    ("Papelería", "Librería y útiles", True),
)  # fmt: skip
PERU_BRANDS = (
    "Andina", "San Martín", "del Pacífico", "Los Andes", "Santa Rosa", "El Sol", "Inca",
    "Norteña", "Chavín", "Misti", "La Económica", "Don Lucho", "Doña Julia", "El Progreso",
    "San Judas Tadeo", "Virgen de la Candelaria", "Huascarán", "Mi Perú", "La Bendición",
    "Pachacútec", "Los Ángeles", "Rímac", "Señor de Muruhuay", "Chaski", "Ñusta",
)  # fmt: skip
MEXICO_BRANDS = (
    "del Pacífico", "La Esperanza", "Azteca", "del Bajío", "La Estrella", "Hidalgo",
    "Morelos", "Regiomontana", "Tapatía", "La Guadalupana", "San Judas", "El Güero",
    "Los Altos", "Anáhuac", "Don Chema", "Doña Lupe", "La Michoacana", "del Norte",
    "Cuauhtémoc", "La Poblanita", "Santa Fe", "Xochimilco", "El Faro", "La Peña",
)  # fmt: skip
PERU_LEGAL_SUFFIXES = ("S.A.C.", "S.A.C.", "S.A.C.", "E.I.R.L.", "E.I.R.L.", "S.R.L.", "S.A.")
MEXICO_LEGAL_SUFFIXES = (
    "S.A. de C.V.", "S.A. de C.V.", "S.A. de C.V.", "S. de R.L. de C.V.", "S.A.P.I. de C.V.",
)  # fmt: skip
ACCOUNT_TAGS = (
    (), (), (), ("mayorista",), ("minorista",), ("cadena",), ("nuevo",), ("crédito",),
    ("mayorista", "crédito"), ("cadena", "exportador"),
)  # fmt: skip
INTEREST_LEVELS = ("alto", "medio", "bajo")
VISIT_DAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado")

MALE_NAMES = (
    "José", "Juan Carlos", "Luis", "Jorge", "Carlos", "Miguel Ángel", "Jesús", "Andrés",
    "Raúl", "Óscar", "Víctor", "Martín", "Sebastián", "Julián", "Rubén", "Héctor", "Iván",
    "Ramón", "Joaquín", "César", "Álvaro", "Nicolás", "Tomás", "Efraín", "Germán",
    "Fernando", "Ricardo", "Diego", "Alejandro", "Eduardo", "Hugo", "Gonzalo",
)  # fmt: skip
FEMALE_NAMES = (
    "María", "Ana María", "Ángela", "Lucía", "Sofía", "Rocío", "Mónica", "Verónica", "Inés",
    "Belén", "Beatriz", "Carmen", "Rosa", "Patricia", "Gabriela", "Daniela", "Valeria",
    "Ximena", "Guadalupe", "Mariana", "Fernanda", "Noemí", "Raquel", "Elena", "Consuelo",
    "Milagros", "Flor de María", "Yesenia", "Itzel", "Begoña", "Maricruz", "Zoila",
)  # fmt: skip
PERU_SURNAMES = (
    "Quispe", "Mamani", "Huamán", "Condori", "Flores", "Rojas", "Chávez", "Vásquez",
    "Ramírez", "Núñez", "Pérez", "Gutiérrez", "Sánchez", "Díaz", "Torres", "Castillo",
    "Mendoza", "Ríos", "Paredes", "Salazar", "Cárdenas", "Chumpitaz", "Huanca", "Ticona",
    "Zúñiga", "Ibáñez", "Muñoz", "Cáceres", "Ñahui", "Villanueva", "Espinoza", "Arévalo",
)  # fmt: skip
MEXICO_SURNAMES = (
    "Hernández", "García", "Martínez", "López", "González", "Rodríguez", "Pérez", "Sánchez",
    "Ramírez", "Cruz", "Gómez", "Jiménez", "Vázquez", "Iñiguez", "Gutiérrez", "Ortiz",
    "Chávez", "Álvarez", "Domínguez", "Márquez", "Treviño", "Garza", "Ibarra", "Velázquez",
    "Núñez", "Muñoz", "Ríos", "Zavala", "Peña", "Montaño", "Benítez", "Ordóñez",
)  # fmt: skip
MALE_SALUTATIONS = ("Sr.", "Sr.", "Sr.", "Ing.", "Lic.", "Dr.")
FEMALE_SALUTATIONS = ("Sra.", "Sra.", "Srta.", "Ing.", "Lic.", "Dra.")

CONTACT_ROLES = (ContactRole.BUYER, ContactRole.OWNER, ContactRole.MANAGER,
                 ContactRole.ACCOUNTING, ContactRole.RECEPTION, ContactRole.OTHER)  # fmt: skip
CONTACT_ROLE_WEIGHTS = (30, 12, 20, 15, 13, 10)
# (masculine, feminine) job titles for each role.
JOB_TITLES = {
    ContactRole.BUYER: (("Jefe de Compras", "Jefa de Compras"), ("Comprador", "Compradora"),
                        ("Asistente de Compras", "Asistente de Compras")),
    ContactRole.OWNER: (("Propietario", "Propietaria"), ("Gerente General", "Gerente General"),
                        ("Socio fundador", "Socia fundadora")),
    ContactRole.MANAGER: (("Administrador de tienda", "Administradora de tienda"),
                          ("Gerente de Operaciones", "Gerente de Operaciones"),
                          ("Encargado de local", "Encargada de local"),
                          ("Jefe de Sucursal", "Jefa de Sucursal")),
    ContactRole.ACCOUNTING: (("Contador", "Contadora"),
                             ("Analista de Cuentas por Pagar", "Analista de Cuentas por Pagar"),
                             ("Jefe de Tesorería", "Jefa de Tesorería")),
    ContactRole.RECEPTION: (("Recepcionista", "Recepcionista"),
                            ("Encargado de Almacén", "Encargada de Almacén"),
                            ("Asistente Administrativo", "Asistente Administrativa")),
    ContactRole.OTHER: (("Jefe de Logística", "Jefa de Logística"),
                        ("Supervisor de Ventas", "Supervisora de Ventas"),
                        ("Asesor Comercial", "Asesora Comercial")),
}  # fmt: skip
CAPTURE_SOURCES = (CaptureSource.MANUAL, CaptureSource.IMPORT, CaptureSource.WEB_FORM,
                   CaptureSource.API)  # fmt: skip
CAPTURE_SOURCE_WEIGHTS = (60, 25, 12, 3)
LEAD_SOURCES = tuple(LeadSource)
CONTACT_TAGS = (("decisor",), ("cumpleaños",), ("newsletter",), ("feria",), ("referido",),
                ("decisor", "newsletter"))  # fmt: skip
CONTACT_HOURS = ("mañanas", "tardes", "después de las 4 p. m.")
FREE_MAIL_DOMAINS = {
    "PE": ("gmail.com", "hotmail.com", "outlook.com", "yahoo.es"),
    "MX": ("gmail.com", "hotmail.com", "outlook.com", "yahoo.com.mx"),
}
CONSONANTS = "BCDFGHJKLMNPQRSTVXZ"
RFC_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
HOMOCLAVE_FIRST = "123456789ABCDEFGHIJKLMNPQRSTUV"
HOMOCLAVE_SECOND = "123456789ABCDEFGHJKLMNPRSTUVWXYZ"
RFC_SKIPPED_WORDS = frozenset({"DE", "DEL", "LA", "LAS", "LOS", "EL", "Y"})

# (kind, name, share of contacts that have one)
CONTACT_ADDRESSES = (
    (LocationKind.HOME, "Domicilio", 0.08),
    (LocationKind.SHIPPING, "Dirección de envío", 0.06),
)
OUTLET_KINDS = (LocationKind.OUTLET, LocationKind.BRANCH, LocationKind.WAREHOUSE)
OUTLET_KIND_WEIGHTS = (55, 30, 15)
OUTLET_NAMES = {LocationKind.OUTLET: "Punto de venta", LocationKind.BRANCH: "Sucursal",
                LocationKind.WAREHOUSE: "Almacén"}  # fmt: skip
# Extra sites per account (0-4) and contacts per site (2-5): about 8 contacts per account.
OUTLET_COUNTS = (0, 1, 2, 3, 4)
OUTLET_COUNT_WEIGHTS = (20, 30, 30, 10, 10)
CONTACTS_PER_SITE = (2, 3, 4, 5)
CONTACTS_PER_SITE_WEIGHTS = (30, 40, 20, 10)
# Activities per contact over the last year: 0-12, about 5 on average.
ACTIVITY_COUNTS = tuple(range(13))
ACTIVITY_COUNT_WEIGHTS = (6, 6, 8, 9, 10, 10, 9, 8, 7, 6, 5, 4, 3)

ACTIVITY_KINDS = (ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.TASK,
                  ActivityKind.EMAIL, ActivityKind.NOTE)  # fmt: skip
ACTIVITY_KIND_WEIGHTS = (30, 15, 20, 20, 15)
ACTIVITY_SUBJECTS = {
    ActivityKind.CALL: (
        "Llamada de seguimiento de pedido", "Confirmar fecha de entrega",
        "Llamada por factura vencida", "Consulta de stock", "Seguimiento de cotización",
        "Llamada de bienvenida", "Coordinar horario de recepción",
    ),
    ActivityKind.MEETING: (
        "Visita al punto de venta", "Reunión de negociación anual",
        "Presentación de nuevos productos", "Revisión de exhibición en tienda",
        "Capacitación al personal de ventas", "Visita de cobranza",
    ),
    ActivityKind.TASK: (
        "Enviar cotización", "Actualizar lista de precios", "Registrar pedido en el sistema",
        "Preparar propuesta comercial", "Gestionar nota de crédito", "Coordinar despacho",
    ),
    ActivityKind.EMAIL: (
        "Enviar catálogo de productos", "Envío de estado de cuenta", "Confirmación de pedido",
        "Enviar factura electrónica", "Invitación a feria comercial",
        "Respuesta a reclamo por entrega tardía",
    ),
    ActivityKind.NOTE: (
        "Reclamo por entrega tardía", "Pide mejores condiciones de crédito",
        "Cambio de horario de recepción", "Interés en la línea de limpieza",
        "Nuevo encargado de tienda", "Prefiere pedidos por WhatsApp",
    ),
}  # fmt: skip
ACTIVITY_BODIES = (
    "El cliente pidió el catálogo actualizado y precios por volumen.",
    "Quedamos en volver a llamar la próxima semana.",
    "Solicita que el despacho llegue antes de las 10 a. m.",
    "Se acordó un descuento del 5 % por pronto pago.",
    "Reportó productos dañados en el último pedido; se coordinó el cambio.",
    "Interesado en ampliar la línea de bebidas para su segundo local.",
    "Pidió factura a nombre de la empresa, no de la persona.",
)  # fmt: skip
MEETING_MINUTES = (30, 45, 60, 90)
EVENT_OUTCOMES = (ActivityStatus.HELD, ActivityStatus.NOT_HELD, ActivityStatus.PLANNED)
EVENT_OUTCOME_WEIGHTS = (75, 15, 10)
OPEN_TODO_STATUSES = (ActivityStatus.NOT_STARTED, ActivityStatus.IN_PROGRESS,
                      ActivityStatus.CANCELLED)  # fmt: skip
OPEN_TODO_WEIGHTS = (60, 35, 5)
PAST_TODO_STATUSES = (ActivityStatus.COMPLETED, ActivityStatus.CANCELLED,
                      ActivityStatus.NOT_STARTED, ActivityStatus.IN_PROGRESS)  # fmt: skip
PAST_TODO_WEIGHTS = (70, 8, 12, 10)

STAFF_TEAMS = ("Ventas Lima", "Ventas CDMX", "Cuentas Clave")
# (team, name, email local part, role)
STAFF = (
    ("Ventas Lima", "Carla Mendoza Ríos", "carla.mendoza", Role.MANAGER),
    ("Ventas Lima", "Luis Alberto Quispe", "luis.quispe", Role.AGENT),
    ("Ventas Lima", "Rocío Huamán Torres", "rocio.huaman", Role.AGENT),
    ("Ventas CDMX", "Alejandro Hernández Ruiz", "alejandro.hernandez", Role.MANAGER),
    ("Ventas CDMX", "Mariana López Treviño", "mariana.lopez", Role.AGENT),
    ("Ventas CDMX", "Jorge Ibáñez Castro", "jorge.ibanez", Role.AGENT),
    ("Cuentas Clave", "Patricia Salazar Núñez", "patricia.salazar", Role.MANAGER),
    ("Cuentas Clave", "Andrés Cárdenas Vega", "andres.cardenas", Role.AGENT),
)
# Tables whose rows get explicit ids (and, on PostgreSQL, need their sequences advanced).
BULK_MODELS: tuple[type[Model], ...] = (Account, Location, Contact, Channel, Activity, AuditEvent)


# ---------------------------------------------------------------- entry point


async def fill_demo_data(
    *,
    accounts: int = 40,
    seed: int = 7,
    admin: User | None = None,
    now: datetime | None = None,
) -> DemoSummary:
    """Fill an empty database with demo data; one that already has accounts is left alone."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    async with change(admin) as unit:
        connection = unit.connection
        postgres = connection.capabilities.dialect == "postgres"
        if postgres:
            await connection.execute_query(f"SELECT pg_advisory_xact_lock({DEMO_LOCK_KEY})")
        if await Account.exists():
            return DemoSummary()
        staff, teams_created, users_created = await _ensure_staff(unit)
        fields_defined = await _ensure_custom_fields(unit)
        first_ids = {model: await _next_id(connection, model) for model in BULK_MODELS}
        generator = DemoGenerator(random.Random(seed), now, staff, admin, dict(first_ids))
        written = {model: 0 for model in BULK_MODELS}
        for start in range(0, accounts, ACCOUNTS_PER_ROUND):
            rows = generator.accounts(min(ACCOUNTS_PER_ROUND, accounts - start))
            for model, objects in rows.in_insert_order():
                await model.bulk_create(objects, batch_size=BATCH_SIZE, using_db=connection)
                written[model] += len(objects)
            await unit.record_loaded(rows.audit_events, BATCH_SIZE)
            written[AuditEvent] += len(rows.audit_events)
        await _settle_updated_at(connection, first_ids)
        if postgres:
            await _advance_sequences(connection)
    return DemoSummary(
        accounts=written[Account],
        locations=written[Location],
        contacts=written[Contact],
        channels=written[Channel],
        activities=written[Activity],
        users=users_created,
        teams=teams_created,
        audit_events=written[AuditEvent] + users_created + teams_created + fields_defined,
    )


class Staff(NamedTuple):
    """The demo sales force, grouped the way accounts are assigned to it."""

    peru: tuple[User, ...]
    mexico: tuple[User, ...]
    key_accounts: tuple[User, ...]

    @property
    def everyone(self) -> tuple[User, ...]:
        """All demo users, for the odd contact or activity owned outside its account's team."""
        return self.peru + self.mexico + self.key_accounts


async def _ensure_staff(unit: Unit) -> tuple[Staff, int, int]:
    """The demo teams and users, created unless they exist, and how many teams and users are new."""
    teams = {team.name: team for team in await Team.filter(name__in=STAFF_TEAMS)}
    teams_created = 0
    for name in STAFF_TEAMS:
        if name not in teams:
            team = Team(name=name)
            team.search_text = team.search_document()
            await team.save()
            await unit.record(AuditAction.CREATED, team, team.name)
            teams[name] = team
            teams_created += 1
    emails = [f"{local}@{DEMO_DOMAIN}" for _, _, local, _ in STAFF]
    users = {user.email: user for user in await User.filter(email__in=emails)}
    users_created = 0
    members: dict[str, list[User]] = {name: [] for name in STAFF_TEAMS}
    for (team_name, name, _, role), email in zip(STAFF, emails, strict=True):
        user = users.get(email)
        if user is None:
            user = User(name=name, email=email, role=role, team_id=teams[team_name].id)
            user.search_text = user.search_document()
            await user.save()
            await unit.record(AuditAction.CREATED, user, user.name)
            users_created += 1
        members[team_name].append(user)
    staff = Staff(*(tuple(members[name]) for name in STAFF_TEAMS))
    return staff, teams_created, users_created


# The custom fields the demo's rows hold (key -> label, type, options), defined unless they exist.
DEMO_CUSTOM_FIELDS = {
    CustomFieldEntity.ACCOUNT: {
        "nivelInteres": ("Nivel de interés", CustomFieldType.SELECT, list(INTEREST_LEVELS)),
        "diaVisita": ("Día de visita", CustomFieldType.SELECT, list(VISIT_DAYS)),
        "limiteCredito": ("Límite de crédito", CustomFieldType.NUMBER, []),
    },
    CustomFieldEntity.CONTACT: {
        "horarioContacto": ("Horario de contacto", CustomFieldType.SELECT, list(CONTACT_HOURS)),
        "canalPreferido": ("Canal preferido", CustomFieldType.SELECT,
                           ["whatsapp", "llamada", "correo"]),
    },
}


async def _ensure_custom_fields(unit: Unit) -> int:
    """The demo's custom field definitions, created unless they exist; how many are new."""
    existing = {(row.entity, row.key) for row in await CustomFieldDefinition.all()}
    created = 0
    for entity, definitions in DEMO_CUSTOM_FIELDS.items():
        for key, (label, kind, options) in definitions.items():
            if (entity, key) in existing:
                continue
            definition = await CustomFieldDefinition.create(
                entity=entity, key=key, label=label, type=kind, options=options,
                using_db=unit.connection,
            )  # fmt: skip
            await unit.record(AuditAction.CREATED, definition, label)
            created += 1
    return created


async def _next_id(connection: BaseDBAsyncClient, model: type[Model]) -> int:
    """The first free id of a table: explicit ids let rows point at each other before insert."""
    table = model._meta.db_table
    rows = await connection.execute_query_dict(f'SELECT MAX("id") AS "top" FROM "{table}"')
    return (rows[0]["top"] or 0) + 1


async def _settle_updated_at(
    connection: BaseDBAsyncClient, first_ids: dict[type[Model], int]
) -> None:
    """bulk_create stamps updated_at with the wall clock; date it back where the API shows it.

    Channels keep the stamp: the API never shows theirs, and rewriting every row of the
    biggest table but one costs seconds on PostgreSQL.
    """
    sources = (
        (Account, '"created_at"'),
        (Location, '"created_at"'),
        (Contact, '"created_at"'),
        (Activity, 'COALESCE("completed_at", "created_at")'),
    )
    for model, source in sources:
        table = model._meta.db_table
        await connection.execute_query(
            f'UPDATE "{table}" SET "updated_at" = {source} WHERE "id" >= {first_ids[model]:d}'
        )


async def _advance_sequences(connection: BaseDBAsyncClient) -> None:
    """PostgreSQL: explicit ids leave the id sequences behind; move them past the new rows."""
    for model in BULK_MODELS:
        table = model._meta.db_table
        await connection.execute_query(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
            f'(SELECT MAX("id") FROM "{table}"))'
        )


# ---------------------------------------------------------------- generation


@dataclass
class Rows:
    """The rows of one round of accounts."""

    accounts: list[Account] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    # Each CREATED event with the account it belongs to (its outbox row's account).
    audit_events: list[tuple[AuditEvent, int]] = field(default_factory=list)

    def in_insert_order(self) -> tuple[tuple[type[Model], list], ...]:
        """Parents before children, so foreign keys hold at every insert."""
        return (
            (Account, self.accounts),
            (Location, self.locations),
            (Contact, self.contacts),
            (Channel, self.channels),
            (Activity, self.activities),
        )


class Person(NamedTuple):
    """A contact's name, and whether Spanish makes their titles feminine."""

    first_name: str
    last_name: str
    female: bool


class DemoGenerator:
    """Builds model objects with explicit ids; every choice comes from the seeded ``rng``."""

    def __init__(
        self,
        rng: random.Random,
        now: datetime,
        staff: Staff,
        admin: User | None,
        next_ids: dict[type[Model], int],
    ) -> None:
        self.rng = rng
        self.now = now
        self.staff = staff
        self.importer = admin or staff.key_accounts[0]
        self.next_ids = next_ids
        self.account_names: set[str] = set()
        self.emails: set[str] = set()
        self.email_bases: dict[str, int] = {}
        self.documents: set[tuple[DocumentType, str]] = set()
        self.tax_ids: set[str] = set()
        self.account_count = 0

    def take_id(self, model: type[Model]) -> int:
        """The next explicit id of ``model``'s table."""
        pk = self.next_ids[model]
        self.next_ids[model] = pk + 1
        return pk

    def accounts(self, count: int) -> Rows:
        """``count`` accounts with their sites, contacts, channels, activities and audit."""
        rows = Rows()
        for _ in range(count):
            self.account(rows)
        return rows

    # -------------------------------------------------------- accounts and sites

    def account(self, rows: Rows) -> None:
        """One account (half Peruvian, half Mexican), its MAIN site and 0-4 other sites."""
        rng = self.rng
        peru = self.account_count % 2 == 0
        self.account_count += 1
        metros = PERU_METROS if peru else MEXICO_METROS
        metro = rng.choice(metros)
        prefix, industry, small_shop = rng.choice(PERU_BUSINESSES if peru else MEXICO_BUSINESSES)
        trade_name = f"{prefix} {rng.choice(PERU_BRANDS if peru else MEXICO_BRANDS)}"
        trade_name = self.unique_account_name(trade_name, metro)
        suffix = rng.choice(PERU_LEGAL_SUFFIXES if peru else MEXICO_LEGAL_SUFFIXES)
        legal_name = f"{trade_name} {suffix}"
        name = trade_name if small_shop or rng.random() < 0.5 else legal_name
        domain = "".join(ch for ch in fold(trade_name) if ch.isalnum())
        domain += ".com.pe" if peru else ".com.mx"
        is_vip = rng.random() < 0.12
        owner = self.account_owner(peru, is_vip)
        created_at = between(rng, self.now - timedelta(days=730), self.now - timedelta(days=30))
        mailbox = rng.choice(("ventas", "contacto", "compras"))
        account = Account(
            id=self.take_id(Account),
            name=name,
            legal_name=legal_name,
            tax_id=self.company_tax_id(peru, trade_name),
            industry=industry,
            website=f"https://www.{domain}" if rng.random() < 0.6 else None,
            email=f"{mailbox}@{domain}" if rng.random() < 0.8 else None,
            phone=self.phone(metro, mobile=False) if rng.random() < 0.9 else None,
            is_vip=is_vip,
            status=RecordStatus.INACTIVE if rng.random() < 0.05 else RecordStatus.ACTIVE,
            owner_id=owner.id,
            tags=list(rng.choice(ACCOUNT_TAGS)),
            custom_fields=self.account_custom_fields(),
            created_at=created_at,
        )
        account.search_text = account.search_document()
        rows.accounts.append(account)
        rows.audit_events.append(
            (self.created_event("Account", account.id, account.name, owner, created_at), account.id)
        )
        main_address = self.address(metro)
        main = self.site(rows, account, LocationKind.MAIN, account.name, main_address, created_at)
        self.staff_site(rows, account, main, metro, owner, domain)
        site_names = {account.name}
        latest = created_at + (self.now - created_at) / 2
        for _ in range(rng.choices(OUTLET_COUNTS, OUTLET_COUNT_WEIGHTS)[0]):
            site_metro = metro if rng.random() < 0.75 else rng.choice(metros)
            kind = rng.choices(OUTLET_KINDS, OUTLET_KIND_WEIGHTS)[0]
            address = self.address(site_metro)
            name = self.site_name(kind, address, site_names)
            opened = between(rng, created_at, latest)
            site = self.site(rows, account, kind, name, address, opened)
            self.staff_site(rows, account, site, site_metro, owner, domain)

    def unique_account_name(self, name: str, metro: Metro) -> str:
        """Trade names repeat across a country; tell them apart by district, then by number."""
        candidate = name
        if candidate in self.account_names:
            candidate = f"{name} {self.rng.choice(metro.areas).name}"
        number = 2
        while candidate in self.account_names:
            candidate = f"{name} {number}"
            number += 1
        self.account_names.add(candidate)
        return candidate

    def site_name(self, kind: LocationKind, address: dict[str, str | None], taken: set[str]) -> str:
        """'Punto de venta Miraflores', 'Sucursal Centro 2': unique within the account."""
        base = f"{OUTLET_NAMES[kind]} {address['district'] or address['neighborhood']}"
        candidate, number = base, 2
        while candidate in taken:
            candidate = f"{base} {number}"
            number += 1
        taken.add(candidate)
        return candidate

    def account_owner(self, peru: bool, is_vip: bool) -> User:
        """Key accounts mostly go to the key-account team, the rest to the country's team."""
        if is_vip and self.rng.random() < 0.7:
            return self.rng.choice(self.staff.key_accounts)
        team = self.staff.peru if peru else self.staff.mexico
        agents = [user for user in team if user.role == Role.AGENT] or list(team)
        return self.rng.choice(team if self.rng.random() < 0.15 else agents)

    def account_custom_fields(self) -> dict[str, object]:
        """A custom field or two, as customers add them in the CRM's settings."""
        rng = self.rng
        custom: dict[str, object] = {}
        if rng.random() < 0.5:
            custom["nivelInteres"] = rng.choice(INTEREST_LEVELS)
        if rng.random() < 0.3:
            custom["diaVisita"] = rng.choice(VISIT_DAYS)
        if rng.random() < 0.15:
            custom["limiteCredito"] = rng.randrange(5_000, 100_000, 500)
        return custom

    def company_tax_id(self, peru: bool, name: str) -> str:
        """A RUC (20 + 8 digits + check digit) or an RFC of a company, unique."""
        rng = self.rng
        while True:
            if peru:
                tax_id = ruc(f"20{rng.randrange(10**8):08d}")
            else:
                founded = date(rng.randint(1985, 2022), rng.randint(1, 12), rng.randint(1, 28))
                tax_id = company_rfc(rng, name, founded)
            if tax_id not in self.tax_ids:
                self.tax_ids.add(tax_id)
                return tax_id

    def site(
        self,
        rows: Rows,
        account: Account,
        kind: LocationKind,
        name: str,
        address: dict[str, str | None],
        created_at: datetime,
        contact_id: int | None = None,
    ) -> Location:
        """A location of ``account`` (or an address of one of its contacts) with a full address."""
        location = Location(
            id=self.take_id(Location),
            account_id=account.id,
            contact_id=contact_id,
            kind=kind,
            name=name,
            is_default=kind == LocationKind.MAIN or contact_id is not None,
            created_at=created_at,
            **address,
        )
        location.search_text = location.search_document()
        rows.locations.append(location)
        return location

    def address(self, metro: Metro) -> dict[str, str | None]:
        """Street, numbers, colonia or distrito, city, state, postcode and a reference."""
        rng = self.rng
        area = rng.choice(metro.areas)
        street = rng.choice(metro.streets)
        others = [other for other in metro.streets if other != street]
        a, b = rng.sample(others, 2)
        if metro.country == "PE":
            exterior = (
                f"Mz. {rng.choice('ABCDEFGH')} Lt. {rng.randint(1, 30)}"
                if rng.random() < 0.15
                else str(rng.randint(100, 3999))
            )
            interior = rng.choice(PERU_INTERIORS) if rng.random() < 0.3 else None
            neighborhood = rng.choice(PERU_URBANIZATIONS) if rng.random() < 0.35 else None
            district = area.name
            reference = rng.choice(PERU_REFERENCES)
        else:
            exterior = "S/N" if rng.random() < 0.05 else str(rng.randint(1, 2500))
            interior = rng.choice(MEXICO_INTERIORS) if rng.random() < 0.3 else None
            neighborhood = area.name
            district = None
            reference = rng.choice(MEXICO_REFERENCES)
        return {
            "street": street,
            "exterior_number": exterior,
            "interior_number": interior,
            "neighborhood": neighborhood,
            "district": district,
            "city": area.city,
            "province": metro.province,
            "state": metro.state,
            "country": metro.country,
            "postal_code": area.postal_code,
            "reference": reference.format(a=a, b=b) if rng.random() < 0.6 else None,
        }

    def phone(self, metro: Metro, *, mobile: bool) -> str:
        """+51 1 445 2310, +51 54 231456, +51 987 654 321; +52 55 1234 5678, +52 222 123 4567."""
        rng = self.rng
        if metro.country == "PE":
            if mobile:
                return f"+51 9{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}"
            if metro.area_code == "1":
                return f"+51 1 {rng.randint(200, 799)} {rng.randint(0, 9999):04d}"
            return f"+51 {metro.area_code} {rng.randint(200000, 299999)}"
        if len(metro.area_code) == 2:
            return f"+52 {metro.area_code} {rng.randint(1000, 9999)} {rng.randint(0, 9999):04d}"
        return f"+52 {metro.area_code} {rng.randint(100, 999)} {rng.randint(0, 9999):04d}"

    # -------------------------------------------------------- contacts

    def staff_site(
        self, rows: Rows, account: Account, site: Location, metro: Metro, owner: User, domain: str
    ) -> None:
        """2-5 people at a site; most sites get one preferred contact, never an inactive one."""
        rng = self.rng
        count = rng.choices(CONTACTS_PER_SITE, CONTACTS_PER_SITE_WEIGHTS)[0]
        contacts = [self.contact(rows, account, site, metro, owner, domain) for _ in range(count)]
        active = [contact for contact in contacts if contact.status == RecordStatus.ACTIVE]
        if active and rng.random() < 0.9:
            rng.choice(active).is_preferred = True

    def contact(
        self,
        rows: Rows,
        account: Account,
        site: Location,
        metro: Metro,
        owner: User,
        domain: str,
    ) -> Contact:
        """A person with channels, maybe addresses, activities and a CREATED audit event."""
        rng = self.rng
        person = self.person(metro.country)
        role = rng.choices(CONTACT_ROLES, CONTACT_ROLE_WEIGHTS)[0]
        active = rng.random() >= 0.03
        capture = rng.choices(CAPTURE_SOURCES, CAPTURE_SOURCE_WEIGHTS)[0]
        contact_owner = owner if rng.random() < 0.85 else rng.choice(self.staff.everyone)
        if capture == CaptureSource.IMPORT:
            creator = self.importer
        else:
            creator = contact_owner if rng.random() < 0.6 else rng.choice(self.staff.everyone)
        created_at = between(rng, site.created_at, self.now - timedelta(days=1))
        birthday = (
            date(rng.randint(1958, 2003), rng.randint(1, 12), rng.randint(1, 28))
            if rng.random() < 0.5
            else None
        )
        document_type, document_number = self.document(metro, person, birthday)
        salutations = FEMALE_SALUTATIONS if person.female else MALE_SALUTATIONS
        job_title = rng.choice(JOB_TITLES[role])[int(person.female)]
        contact = Contact(
            id=self.take_id(Contact),
            account_id=account.id,
            location_id=site.id,
            salutation=rng.choice(salutations) if rng.random() < 0.85 else None,
            first_name=person.first_name,
            last_name=person.last_name,
            job_title=job_title if rng.random() < 0.9 else None,
            role=role,
            home_phone=self.phone(metro, mobile=False) if rng.random() < 0.1 else None,
            birthday=birthday,
            document_type=document_type,
            document_number=document_number,
            is_vip=rng.random() < (0.3 if account.is_vip else 0.05),
            portal_user=rng.random() < 0.1,
            email_opt_out=rng.random() < 0.07,
            lead_source=rng.choice(LEAD_SOURCES) if rng.random() < 0.85 else None,
            capture_source=capture,
            converted_from_lead=rng.random() < 0.15,
            status=RecordStatus.ACTIVE if active else RecordStatus.INACTIVE,
            owner_id=contact_owner.id,
            created_by_id=creator.id,
            tags=list(rng.choice(CONTACT_TAGS)) if rng.random() < 0.15 else [],
            custom_fields=self.contact_custom_fields(),
            created_at=created_at,
        )
        channels = self.channels(contact, person, metro, domain)
        contact.search_text = contact.search_document(channels)
        rows.contacts.append(contact)
        rows.channels.extend(channels)
        self.contact_addresses(rows, account, contact, metro)
        full_name = contact.full_name
        event = self.created_event("Contact", contact.id, full_name, creator, created_at)
        rows.audit_events.append((event, account.id))
        self.activities(rows, contact, metro, random.Random(rng.getrandbits(64)))
        return contact

    def person(self, country: str) -> Person:
        """Spanish first names and one or two surnames, accents and all."""
        rng = self.rng
        female = rng.random() < 0.5
        first = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
        surnames = PERU_SURNAMES if country == "PE" else MEXICO_SURNAMES
        last = rng.choice(surnames)
        if rng.random() < 0.6:
            last = f"{last} {rng.choice(surnames)}"
        return Person(first, last, female)

    def contact_custom_fields(self) -> dict[str, str]:
        """Sometimes the best hours or channel to reach the person."""
        custom: dict[str, str] = {}
        if self.rng.random() < 0.2:
            custom["horarioContacto"] = self.rng.choice(CONTACT_HOURS)
        if self.rng.random() < 0.1:
            custom["canalPreferido"] = "whatsapp"
        return custom

    def document(
        self, metro: Metro, person: Person, birthday: date | None
    ) -> tuple[DocumentType | None, str | None]:
        """DNI, RUC, carné de extranjería or passport in Peru; CURP or passport in Mexico."""
        rng = self.rng
        roll = rng.random()
        if metro.country == "PE":
            if roll < 0.2:
                return None, None
            kind = (
                DocumentType.DNI if roll < 0.8
                else DocumentType.RUC if roll < 0.9
                else DocumentType.CE if roll < 0.95
                else DocumentType.PASSPORT
            )  # fmt: skip
        else:
            if roll < 0.5:
                return None, None
            kind = DocumentType.CURP if roll < 0.85 else DocumentType.PASSPORT
        while True:
            if kind == DocumentType.DNI:
                number = f"{rng.randint(10_000_000, 79_999_999)}"
            elif kind == DocumentType.RUC:
                number = ruc(f"10{rng.randint(10_000_000, 79_999_999)}")
            elif kind == DocumentType.CE:
                number = f"00{rng.randint(1_000_000, 9_999_999)}"
            elif kind == DocumentType.PASSPORT:
                number = f"{rng.choice('GNPE')}{rng.randint(10_000_000, 99_999_999)}"
            else:
                number = curp(rng, person, birthday, metro.curp_state)
            if (kind, number) not in self.documents:
                self.documents.add((kind, number))
                return kind, number

    def channels(
        self, contact: Contact, person: Person, metro: Metro, domain: str
    ) -> list[Channel]:
        """Work email, mobile, sometimes office phone, WhatsApp and a personal email."""
        rng = self.rng
        values: list[tuple[ChannelKind, str, str | None]] = []
        if rng.random() < 0.9:
            values.append((ChannelKind.EMAIL, self.email(person, domain, work=True), "Trabajo"))
        mobile = self.phone(metro, mobile=True) if rng.random() < 0.85 else None
        if mobile:
            values.append((ChannelKind.MOBILE, mobile, "Celular"))
        if rng.random() < 0.35:
            values.append((ChannelKind.PHONE, self.phone(metro, mobile=False), "Oficina"))
        if rng.random() < 0.45:
            whatsapp = mobile or self.phone(metro, mobile=True)
            values.append((ChannelKind.WHATSAPP, whatsapp, None))
        if rng.random() < 0.12:
            personal = self.email(person, rng.choice(FREE_MAIL_DOMAINS[metro.country]), work=False)
            values.append((ChannelKind.EMAIL, personal, "Personal"))
        channels = []
        seen: set[ChannelKind] = set()
        for offset, (kind, typed, label) in enumerate(values):
            # The write paths' own check: demo values pass it, or the generator is wrong.
            value = check_channel_value(Problems(), (), kind, typed, metro.country)
            assert value is not None, f"demo {kind} {typed!r} is not valid in {metro.country}"
            channels.append(
                Channel(
                    id=self.take_id(Channel),
                    contact_id=contact.id,
                    kind=kind,
                    value=value.value,
                    normalized=value.normalized,
                    e164=value.e164,
                    label=label,
                    is_primary=kind not in seen,
                    contact_active=contact.status == RecordStatus.ACTIVE,
                    created_at=contact.created_at + timedelta(seconds=offset),
                )
            )
            seen.add(kind)
        return channels

    def email(self, person: Person, domain: str, *, work: bool) -> str:
        """jose.nunez@bodegasanmartin.com.pe; a counter keeps every address unique."""
        rng = self.rng
        first = "".join(ch for ch in fold(person.first_name).split()[0] if ch.isalnum())
        last = "".join(ch for ch in fold(person.last_name).split()[0] if ch.isalnum())
        if work:
            local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}{last[0]}"))
        else:
            local = f"{first}.{last}{rng.randint(60, 99)}"
        base = f"{local}@{domain}"
        number = self.email_bases.get(base, 1)
        address = base
        while address in self.emails:
            number += 1
            address = f"{local}{number}@{domain}"
        self.email_bases[base] = number
        self.emails.add(address)
        if rng.random() < 0.05:
            return address[0].upper() + address[1:]  # people type capitals; rule 4 ignores case
        return address

    def contact_addresses(
        self, rows: Rows, account: Account, contact: Contact, metro: Metro
    ) -> None:
        """A home and a shipping address for a few people; shipping becomes their default."""
        for kind, name, share in CONTACT_ADDRESSES:
            if self.rng.random() < share:
                address = self.site(
                    rows, account, kind, name, self.address(metro), contact.created_at,
                    contact_id=contact.id,
                )  # fmt: skip
                if kind == LocationKind.SHIPPING:
                    contact.default_shipping_address_id = address.id

    def created_event(
        self, resource_type: str, resource_id: int, name: str, actor: User, at: datetime
    ) -> AuditEvent:
        """The CREATED audit event a real create would have written."""
        event = AuditEvent(
            id=self.take_id(AuditEvent),
            action=AuditAction.CREATED,
            resource_type=resource_type,
            resource_id=resource_id,
            resource_name=name[:255],
            actor_id=actor.id,
            actor_name=actor.name,
            occurred_at=at,
            changes={},
        )
        event.search_text = event.search_document()
        return event

    # -------------------------------------------------------- activities

    def activities(self, rows: Rows, contact: Contact, metro: Metro, rng: random.Random) -> None:
        """0-12 calls, meetings, tasks, emails and notes over the last year (some ahead).

        ``rng`` is the contact's own: how many draws a date-dependent branch takes never
        shifts the names and numbers drawn after it, whatever ``now`` is.
        """
        count = rng.choices(ACTIVITY_COUNTS, ACTIVITY_COUNT_WEIGHTS)[0]
        if contact.status == RecordStatus.INACTIVE:
            count //= 3
        start = max(self.now - timedelta(days=365), contact.created_at)
        for _ in range(count):
            kind = rng.choices(ACTIVITY_KINDS, ACTIVITY_KIND_WEIGHTS)[0]
            if kind != ActivityKind.NOTE and rng.random() < 0.12:
                day = between(rng, self.now, self.now + timedelta(days=45))
            else:
                day = between(rng, start, self.now)
            at = working_hour(rng, day, metro)
            owner_id = contact.owner_id
            if rng.random() < 0.15:
                owner_id = rng.choice(self.staff.everyone).id
            if kind == ActivityKind.NOTE:
                timing = {"created_at": min(max(at, contact.created_at), self.now)}
            else:
                lead = timedelta(minutes=rng.randint(10, 14 * 24 * 60))
                created_at = min(max(at - lead, contact.created_at), self.now)
                schedule = self.event_timing if kind in EVENT_KINDS else self.todo_timing
                timing = schedule(rng, kind, at, created_at)
            activity = Activity(
                id=self.take_id(Activity),
                kind=kind,
                subject=rng.choice(ACTIVITY_SUBJECTS[kind]),
                body=rng.choice(ACTIVITY_BODIES) if rng.random() < 0.4 else None,
                account_id=contact.account_id,
                location_id=contact.location_id,
                contact_id=contact.id,
                owner_id=owner_id,
                **timing,
            )
            activity.search_text = activity.search_document()
            rows.activities.append(activity)

    def event_timing(
        self, rng: random.Random, kind: ActivityKind, at: datetime, created_at: datetime
    ) -> dict[str, object]:
        """A call or meeting: past ones mostly held, future ones planned."""
        status = ActivityStatus.PLANNED
        if at <= self.now:
            status = rng.choices(EVENT_OUTCOMES, EVENT_OUTCOME_WEIGHTS)[0]
        timing: dict[str, object] = {"status": status, "starts_at": at, "created_at": created_at}
        if kind == ActivityKind.MEETING:
            timing["ends_at"] = at + timedelta(minutes=rng.choice(MEETING_MINUTES))
        elif status == ActivityStatus.HELD:
            timing["call_direction"] = rng.choice((CallDirection.INBOUND, CallDirection.OUTBOUND))
            timing["duration_seconds"] = rng.randint(45, 1500)
        elif status == ActivityStatus.NOT_HELD:
            timing["call_direction"] = rng.choice((CallDirection.MISSED, CallDirection.OUTBOUND))
            timing["duration_seconds"] = 0
        else:
            timing["call_direction"] = CallDirection.OUTBOUND
        return timing

    def todo_timing(
        self, rng: random.Random, kind: ActivityKind, due: datetime, created_at: datetime
    ) -> dict[str, object]:
        """A task or email: overdue ones mostly completed, upcoming ones still open."""
        if due > self.now:
            status = rng.choices(OPEN_TODO_STATUSES, OPEN_TODO_WEIGHTS)[0]
        else:
            status = rng.choices(PAST_TODO_STATUSES, PAST_TODO_WEIGHTS)[0]
        timing: dict[str, object] = {"status": status, "due_at": due, "created_at": created_at}
        if status == ActivityStatus.COMPLETED:
            latest = min(self.now, due + timedelta(days=2))
            timing["completed_at"] = between(rng, created_at, latest)
        return timing


def between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A whole-second moment in [start, end], from exactly one draw whatever the span."""
    span = max(0, int((end - start).total_seconds()))
    return start + timedelta(seconds=int(rng.random() * (span + 1)))


def working_hour(rng: random.Random, moment: datetime, metro: Metro) -> datetime:
    """``moment``'s day at a local office hour (Mon-Sat, 8:00-18:00), in UTC."""
    local_day = (moment - timedelta(hours=metro.utc_offset_hours)).date()
    if local_day.weekday() == 6:
        local_day -= timedelta(days=1)
    midnight = datetime(local_day.year, local_day.month, local_day.day, tzinfo=UTC)
    minutes = rng.randint(8 * 60, 18 * 60) // 15 * 15
    return midnight + timedelta(hours=metro.utc_offset_hours, minutes=minutes)


# ---------------------------------------------------------------- identity numbers


RUC_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def ruc(first_ten: str) -> str:
    """A Peruvian RUC: the ten digits given plus SUNAT's modulo-11 check digit."""
    remainder = 11 - sum(int(d) * w for d, w in zip(first_ten, RUC_WEIGHTS, strict=True)) % 11
    return first_ten + str(remainder % 10)


def company_rfc(rng: random.Random, name: str, founded: date) -> str:
    """An RFC-shaped id of a Mexican company: initials, founding date, 3-character homoclave."""
    words = [word for word in fold(name).upper().split() if word.isalpha()]
    words = [word for word in words if word not in RFC_SKIPPED_WORDS] or ["X"]
    letters = "".join(word[0] for word in words)[:3]
    letters = (letters + "".join(ch for ch in words[-1][1:] if ch.isalpha()) + "XXX")[:3]
    # SAT's homoclave: a character of 1-9/A-V, one of 1-9/A-Z, then the check digit. Three
    # draws as before the check digit was computed, so a seed still gives the same data.
    first, second, _ = (rng.choice(RFC_CHARS) for _ in range(3))
    homoclave = "".join(
        allowed[RFC_CHARS.index(drawn) % len(allowed)]
        for drawn, allowed in ((first, HOMOCLAVE_FIRST), (second, HOMOCLAVE_SECOND))
    )
    first_eleven = f"{letters}{founded:%y%m%d}{homoclave}"
    return first_eleven + mx_rfc.calc_check_digit(first_eleven)


def curp(rng: random.Random, person: Person, birthday: date | None, state: str) -> str:
    """A CURP-shaped id: name letters, birth date, sex, state, inner consonants, check chars."""
    surnames = [word for word in fold(person.last_name).upper().split() if word.isalpha()]
    first_surname = surnames[0]
    vowel = next((ch for ch in first_surname[1:] if ch in "AEIOU"), "X")
    second = surnames[1][0] if len(surnames) > 1 else "X"
    letters = f"{first_surname[0]}{vowel}{second}{fold(person.first_name).upper()[0]}"
    born = birthday or date(rng.randint(1960, 2002), rng.randint(1, 12), rng.randint(1, 28))
    consonants = "".join(rng.choice(CONSONANTS) for _ in range(3))
    sex = "M" if person.female else "H"
    century = "0" if born.year < 2000 else "A"  # RENAPO's differentiator: digit before 2000
    rng.choice("0A"), rng.randint(0, 9)  # the old random tail's draws: a seed keeps its data
    first_seventeen = f"{letters}{born:%y%m%d}{sex}{state}{consonants}{century}"
    number = first_seventeen + mx_curp.calc_check_digit(first_seventeen)
    try:
        return mx_curp.validate(number)
    except ValueError:  # an unseemly word as the first four letters: RENAPO puts X second
        first_seventeen = first_seventeen[0] + "X" + first_seventeen[2:]
        return first_seventeen + mx_curp.calc_check_digit(first_seventeen)
